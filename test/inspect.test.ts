// console.log and util.inspect of the public objects print their state, not private fields or
// the loop's internals (`_callback`, `#keys` ...).
import { inspect } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { EVENT_READ, EVENT_WRITE, availableBackends } from '../src/selectors.js';
import { Socket } from '../src/socket.js';
import { openSelector, pipe } from './helpers/fds.js';
import { track } from './helpers/net.js';
import { cleanup } from './helpers/resources.js';
import { openLoop } from './loop/helpers.js';

afterEach(cleanup);

describe.each(availableBackends())('%s', (backend) => {
  test('a selector prints its class, backend, state and how many fds it watches', () => {
    const sel = openSelector(backend);
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    sel.register(w, EVENT_WRITE);
    const name = sel.constructor.name;
    expect(inspect(sel)).toBe(`${name} { backend: '${backend}', closed: false, registered: 2 }`);
    sel.close();
    expect(inspect(sel)).toBe(`${name} { backend: '${backend}', closed: true, registered: 0 }`);
  });

  test("a selector's key map prints as a map from fd to key", () => {
    const sel = openSelector<string>(backend);
    const [r] = pipe();
    sel.register(r, EVENT_READ, 'reader');
    expect(inspect(sel.getMap())).toBe(
      `SelectorKeyMap(1) { ${r} => { fileobj: ${r}, fd: ${r}, events: 1, data: 'reader' } }`,
    );
    expect(inspect(sel.getMap(), { depth: -1 })).toBe('[SelectorKeyMap]');
  });

  test('a loop prints its backend and whether it runs, is attached or is closed', () => {
    const loop = openLoop(backend);
    expect(inspect(loop)).toBe(`Loop { backend: '${backend}', running: false, attached: false, closed: false }`);
    loop.close();
    expect(inspect(loop)).toContain('closed: true');
  });
});

describe('handles and sockets', () => {
  test('a callSoon handle prints its callback and whether it was cancelled, and no internals', () => {
    const loop = openLoop(availableBackends()[0]);
    function tick(): void {}
    const h = loop.callSoon(tick);
    expect(inspect(h)).toBe('Handle { callback: [Function: tick], cancelled: false }');
    h.cancel();
    expect(inspect(h)).toBe('Handle { callback: null, cancelled: true }');
  });

  test('a timer handle also prints its deadline in loop.time() milliseconds', () => {
    const loop = openLoop(availableBackends()[0]);
    const h = loop.callLater(1000, () => {});
    const text = inspect(h, { breakLength: Infinity });
    expect(text).toMatch(/^Handle \{ callback: \[Function \(anonymous\)\], when: [\d.]+, cancelled: false \}$/);
    expect(text).not.toContain('_');
    h.cancel();
  });

  test('a socket prints its fd, family and state; nested deeper than asked it prints its name', () => {
    const s = track(Socket.tcp());
    expect(inspect(s)).toBe(`Socket { fd: ${s.fd}, family: 'IPv4', closed: false }`);
    expect(inspect({ a: { b: s } }, { depth: 1 })).toBe('{ a: { b: [Socket] } }');
    s.close();
    expect(inspect(s)).toBe("Socket { fd: -1, family: 'IPv4', closed: true }");
  });
});
