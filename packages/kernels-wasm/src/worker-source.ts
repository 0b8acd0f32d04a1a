// The source of a kernel worker, as plain JavaScript text: Node runs it with `new Worker(src, { eval: true })` and
// browsers from a Blob URL, so no separate file has to be located, bundled or served. A worker instantiates the
// kernel module on the shared memory, then loops: wait for the job counter to move, run its share of the job
// (tid of nth), count down, wake the caller. All job data travels through SharedArrayBuffers (control.ts).
// A worker that dies (an exception escapes its loop, or process.exit in Node) says so in the control words before
// it goes (DEAD, WHY, CODE) and moves and wakes PENDING, so a caller blocked on the job sees it (thread-pool.ts).

/** Control words (Int32Array indices) shared by the caller and the workers. */
export const CTL = { GEN: 0, FN: 1, NARGS: 2, PENDING: 3, NTH: 4, ERROR: 5, SHUTDOWN: 6, DEAD: 7, WHY: 8, CODE: 9, SPIN_US: 10, CONTENDED: 11, WORDS: 12 } as const;
/** Why a worker died (CTL.WHY): an exception escaped its loop, it exited (CODE = exit code), or its host saw it exit. */
export const DEATH = { THREW: 1, EXITED: 2, EXIT_SEEN: 3 } as const;
/** Added to PENDING by a dying worker: changes the value a blocked caller waits on, so it cannot miss the wake-up. */
export const DEAD_BUMP = 1 << 24;
/** Where a job starts in WORKER_SOURCE (tests put a fault there, see worker-death.test.ts). */
export const JOB_START_MARKER = '/* job start */';
/** Most arguments a kernel takes (before tid, nth). */
export const MAX_ARGS = 24;
/** Polls of the job counter before a worker checks its poll budget (CTL.SPIN_US, set by the caller per job). */
export const WORKER_SPINS = 2000;
/**
 * A gap this long (ms) between two clock reads of a polling thread (normally microseconds apart) means it was
 * descheduled: the machine has more runnable threads than cores, and polling only takes time from other threads.
 */
export const PREEMPTED_MS = 0.3;

export const WORKER_SOURCE = `
(function () {
  var GEN = ${CTL.GEN}, FN = ${CTL.FN}, NARGS = ${CTL.NARGS}, PENDING = ${CTL.PENDING}, NTH = ${CTL.NTH}, ERROR = ${CTL.ERROR}, SHUTDOWN = ${CTL.SHUTDOWN};
  var DEAD = ${CTL.DEAD}, WHY = ${CTL.WHY}, CODE = ${CTL.CODE}, SPIN_US = ${CTL.SPIN_US}, CONTENDED = ${CTL.CONTENDED};
  var isNode = typeof process !== 'undefined' && process.versions && process.versions.node && typeof require === 'function';
  function start(d, post) {
    var inst;
    try {
      inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
    } catch (e) {
      post({ error: String(e && e.message || e) });
      return;
    }
    var fns = d.names.map(function (n) { return inst.exports[n]; });
    var ctl = new Int32Array(d.control);
    var args = new Float64Array(d.args);
    var tid = d.tid;
    function dying(why, code) {
      if (Atomics.load(ctl, SHUTDOWN)) return;
      if (Atomics.load(ctl, DEAD) === 0) { Atomics.store(ctl, WHY, why); Atomics.store(ctl, CODE, code); Atomics.compareExchange(ctl, DEAD, 0, tid); }
      Atomics.add(ctl, PENDING, ${DEAD_BUMP});
      Atomics.notify(ctl, PENDING);
    }
    if (isNode) process.on('exit', function (code) { dying(${DEATH.EXITED}, code | 0); });
    var seen = Atomics.load(ctl, GEN);
    post({ ready: true });
    var argv = [];
    try {
      for (;;) {
        // Poll for the next job for SPIN_US microseconds (the pool's choice, thread-pool.ts), then block until
        // notified; the clock is read once per WORKER_SPINS polls. A polling worker that finds it was descheduled
        // between two reads tells the pool (CONTENDED: it stops polling for a while) and blocks at once.
        var spins = 0, g, until = 0, last = 0;
        while ((g = Atomics.load(ctl, GEN)) === seen) {
          if (++spins % ${WORKER_SPINS} === 0) {
            var now = performance.now();
            if (until === 0) until = now + ctl[SPIN_US] / 1000;
            else if (now - last > ${PREEMPTED_MS}) { Atomics.store(ctl, CONTENDED, 1); until = now; }
            last = now;
            if (now >= until) Atomics.wait(ctl, GEN, seen);
          }
        }
        seen = g;
        if (Atomics.load(ctl, SHUTDOWN)) return;
        ${JOB_START_MARKER}
        var n = ctl[NARGS], nth = ctl[NTH];
        argv.length = 0;
        for (var i = 0; i < n; i++) argv.push(args[i]);
        argv.push(tid, nth);
        try {
          fns[ctl[FN]].apply(null, argv);
        } catch (e) {
          Atomics.store(ctl, ERROR, 1);
        }
        if (Atomics.sub(ctl, PENDING, 1) === 1) Atomics.notify(ctl, PENDING);
      }
    } catch (e) {
      dying(${DEATH.THREW}, 0);
      throw e;
    }
  }
  if (isNode) {
    var parentPort = require('node:worker_threads').parentPort;
    parentPort.once('message', function (d) { start(d, function (m) { parentPort.postMessage(m); }); });
  } else {
    self.onmessage = function (e) { self.onmessage = null; start(e.data, function (m) { self.postMessage(m); }); };
  }
})();
`;
