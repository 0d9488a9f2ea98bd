// One progress line on stderr: which case is running, k of n. On a terminal it rewrites itself
// in place; into a file or pipe it prints one line per case.

export class Progress {
  #done = 0;
  #total: number;
  readonly #tty = process.stderr.isTTY === true;
  #width = 0;

  constructor(total: number) {
    this.#total = total;
  }

  /** Announces the next case. */
  step(label: string): void {
    this.#done++;
    const line = `[${this.#done}/${this.#total}] ${label}`;
    if (this.#tty) {
      const pad = Math.max(0, this.#width - line.length);
      process.stderr.write(`\r${line}${' '.repeat(pad)}`);
      this.#width = line.length;
    } else {
      process.stderr.write(`${line}\n`);
    }
  }

  /** A message that must stay visible (a skipped column, a failed server). */
  note(text: string): void {
    this.clear();
    process.stderr.write(`${text}\n`);
  }

  clear(): void {
    if (this.#tty && this.#width > 0) process.stderr.write(`\r${' '.repeat(this.#width)}\r`);
    this.#width = 0;
  }
}
