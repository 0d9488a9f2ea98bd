"""What every Python echo reference server does before it serves: the one --port argument,
and the soft fd limit raised to the hard one (as iomux's echo server and the C server do), so
the servers are compared on the same terms."""

import argparse
import resource


def port_and_fd_limit(doc):
    """Parses --port (0..65535, 0: the kernel picks one) and raises RLIMIT_NOFILE; returns the port."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    if not 0 <= args.port <= 65535:
        ap.error("port out of range")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return args.port
