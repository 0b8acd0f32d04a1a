// The source of a kernel worker, as plain JavaScript text: Node runs it with `new Worker(src, { eval: true })` and
// browsers from a Blob URL, so no separate file has to be located, bundled or served. A worker instantiates the
// kernel module on the shared memory, then loops: wait for the job counter to move, run its share of the job
// (tid of nth), count down, wake the caller. All job data travels through SharedArrayBuffers (control.ts).

/** Control words (Int32Array indices) shared by the caller and the workers. */
export const CTL = { GEN: 0, FN: 1, NARGS: 2, PENDING: 3, NTH: 4, ERROR: 5, SHUTDOWN: 6, WORDS: 8 } as const;
/** Most arguments a kernel takes (before tid, nth). */
export const MAX_ARGS = 24;
/** Polls of the job counter before a worker blocks in Atomics.wait (a few microseconds: decode ops come fast). */
export const WORKER_SPINS = 2000;

export const WORKER_SOURCE = `
(function () {
  var GEN = ${CTL.GEN}, FN = ${CTL.FN}, NARGS = ${CTL.NARGS}, PENDING = ${CTL.PENDING}, NTH = ${CTL.NTH}, ERROR = ${CTL.ERROR}, SHUTDOWN = ${CTL.SHUTDOWN};
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
    var seen = Atomics.load(ctl, GEN);
    post({ ready: true });
    var argv = [];
    for (;;) {
      var spins = 0, g;
      while ((g = Atomics.load(ctl, GEN)) === seen) {
        if (++spins > ${WORKER_SPINS}) Atomics.wait(ctl, GEN, seen);
      }
      seen = g;
      if (Atomics.load(ctl, SHUTDOWN)) return;
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
  }
  if (typeof process !== 'undefined' && process.versions && process.versions.node && typeof require === 'function') {
    var parentPort = require('node:worker_threads').parentPort;
    parentPort.once('message', function (d) { start(d, function (m) { parentPort.postMessage(m); }); });
  } else {
    self.onmessage = function (e) { self.onmessage = null; start(e.data, function (m) { self.postMessage(m); }); };
  }
})();
`;
