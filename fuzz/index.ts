// npm run fuzz -- [--seconds N] [--seed S] [--path P] [--max-commands N]
//
// Model-based differential fuzzing of the selectors and the Loop (fast-check commands): random
// register / modify / unregister, writes, drains, fills, shutdowns and closes (also of
// registered fds, and of Sockets, whose close unregisters them), dups, reuse of fd numbers, and
// Loop iterations whose callbacks add and remove readers, over pipes, socketpairs and TCP
// pairs. Every backend runs side by side on the same fds and is compared with a model of the
// kernel's state after every step (fuzz/kernel-model.ts). A failure prints the seed and path;
// `--seed S --path P` replays exactly that case. Exits 1 on a failure or an fd leak.
import fc from 'fast-check';
import { Command, InvalidArgumentError } from 'commander';
import { commandArbs, kinds } from './commands.js';
import { SLOTS, World } from './world.js';
import { fdChanges, openFds } from './fd-leaks.js';

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`);
    return n;
  };
}

const opts = new Command('fuzz')
  .option('--seconds <n>', 'time budget', int('--seconds'), 30)
  .option('--seed <n>', 'fast-check seed (default: random, printed)', int('--seed'))
  .option('--path <p>', 'replay one case: the path printed with a failure')
  .option('--max-commands <n>', 'commands per case', int('--max-commands'), 60)
  .parse()
  .opts<{ seconds: number; seed?: number; path?: string; maxCommands: number }>();

const seed = opts.seed ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const probe = new World(['pipe']);
const backends = probe.backends.join(', ');
probe.dispose();

let steps = 0;
let waitedMs = 0;
const property = fc.asyncProperty(
  fc.array(kinds, { minLength: SLOTS, maxLength: SLOTS }),
  fc.commands(commandArbs, { maxCommands: opts.maxCommands, size: 'max' }),
  async (slotKinds, cmds) => {
    const before = openFds();
    const world = new World(slotKinds);
    try {
      world.compare('setup');
      await fc.asyncModelRun(() => ({ model: world, real: world }), cmds);
    } finally {
      steps += world.steps;
      waitedMs += world.waitedMs;
      world.dispose();
    }
    const changes = fdChanges(before, openFds());
    if (changes.length > 0) throw new Error(`fd leak: ${changes.join('; ')}`);
  },
);

console.log(
  `fuzz: backends ${backends}; seed ${seed}; ${opts.path ? `replaying path ${opts.path}` : `${opts.seconds} s budget`}`,
);
const started = performance.now();
const result = await fc.check(property, {
  seed,
  path: opts.path,
  numRuns: opts.path ? 1 : 1_000_000_000,
  interruptAfterTimeLimit: opts.path ? undefined : opts.seconds * 1000,
  markInterruptAsFailure: false,
  endOnFailure: false,
});
const secs = ((performance.now() - started) / 1000).toFixed(1);

if (result.failed) {
  const err = result.errorInstance as Error | undefined;
  console.error(`fuzz: FAILED after ${result.numRuns} cases in ${secs} s (shrunk ${result.numShrinks} times)`);
  console.error(`  ${err?.message ?? String(result.errorInstance)}`);
  console.error(`  counterexample: ${fc.stringify(result.counterexample)}`);
  console.error(`  replay: npm run fuzz -- --seed ${result.seed} --path ${result.counterexamplePath}`);
  process.exit(1);
}
console.log(
  `fuzz: ${result.numRuns} cases, ${steps} steps (each compared on every backend) in ${secs} s (${(waitedMs / 1000).toFixed(1)} s of it waiting for TCP segments); no failure, no fd leak; seed ${seed}`,
);
