// A focused workload for valgrind's memcheck (a whole vitest run under valgrind takes too long):
// every selector operation on every backend, including the paths that resize native tables,
// report closed fds, truncate a full result array, and rebuild epoll (the dup pitfall), plus an
// attached Loop's libuv watcher. Run from the package root after `npm run build`:
//   valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
//     node dist/fuzz/valgrind-selectors.js
import { Buffer } from 'node:buffer';
import { Loop } from '../src/loop.js';
import { native } from '../src/native.js';
import { availableBackends, createSelector } from '../src/selectors.js';

const R = 1;
const W = 2;
const opened: number[] = [];
function pipe() {
  const p = native.pipe();
  if (typeof p === 'number') throw new Error(`pipe: ${p}`);
  opened.push(...p);
  return p;
}
function closeAll() {
  for (const fd of opened.splice(0)) native.close(fd);
}

for (const backend of availableBackends()) {
  for (let round = 0; round < 3; round++) {
    const sel = createSelector(backend);
    const pipes = Array.from({ length: 300 }, () => pipe());
    for (const [r] of pipes) sel.register(r, R);
    for (const [, w] of pipes) native.write(w, Buffer.from('x'), 0, 1);
    for (let i = 0; i < 3; i++) sel.select(0);
    for (const [r] of pipes.slice(0, 100)) sel.modify(r, R | W);
    for (const [r] of pipes.slice(0, 50)) sel.unregister(r);
    // Closed behind the selector's back, then unregistered (select/poll report, epoll drops).
    const [cr] = pipes[200];
    native.close(cr);
    opened.splice(opened.indexOf(cr), 1);
    sel.select(0);
    sel.unregister(cr);
    // The dup pitfall: the epoll instance is rebuilt.
    const [dr] = pipes[201];
    const d = native.dup(dr);
    native.close(dr);
    opened.splice(opened.indexOf(dr), 1);
    sel.unregister(dr);
    sel.select(0);
    native.close(d);
    // More ready fds than the 1024-pair result array holds: the scan resumes where it stopped
    // (not on select, whose fds must stay below FD_SETSIZE).
    const many = Array.from({ length: backend === 'select' ? 100 : 1100 }, () => pipe());
    for (const [, w] of many) sel.register(w, W);
    sel.select(0);
    sel.select(0);
    sel.selectRaw(1);
    sel.close();
    closeAll();
  }
}

// An attached Loop: libuv watches the epoll fd (FdWatch), and follows it across a rebuild.
if (availableBackends().includes('epoll')) {
  const loop = new Loop({ backend: 'epoll' });
  loop.attach();
  const [r, w] = pipe();
  const [a] = pipe();
  let reads = 0;
  loop.addReader(a, () => {});
  loop.addReader(r, () => {
    const buf = Buffer.alloc(16);
    native.read(r, buf, 0, 16);
    reads++;
  });
  native.write(w, Buffer.from('x'), 0, 1);
  await new Promise((res) => setTimeout(res, 50));
  const d = native.dup(a);
  native.close(a);
  opened.splice(opened.indexOf(a), 1);
  loop.removeReader(a);
  native.write(w, Buffer.from('x'), 0, 1);
  await new Promise((res) => setTimeout(res, 50));
  native.close(d);
  loop.removeReader(r);
  loop.close();
  closeAll();
  if (reads !== 2) throw new Error(`attached loop read ${reads} times, expected 2`);
}
console.log('valgrind workload done');
