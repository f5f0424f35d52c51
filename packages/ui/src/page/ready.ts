/**
 * The readiness hook: `document.body.dataset.ready` is "0" while anything visible is loading
 * or drawing and "1" once every visible chart has drawn (tests and automation wait on it).
 */
let pending = 0;
let epoch = 0;

function set(v: "0" | "1"): void {
  if (document.body.dataset.ready !== v) document.body.dataset.ready = v;
}

/** Marks the page busy until the promise settles. */
export function track<T>(p: Promise<T>): Promise<T> {
  pending++;
  epoch++;
  set("0");
  const done = () => {
    pending--;
    if (pending === 0) {
      const e = epoch;
      // After the frame that paints what was just drawn.
      requestAnimationFrame(() => {
        if (pending === 0 && e === epoch) set("1");
      });
    }
  };
  p.then(done, done);
  return p;
}

export function isBusy(): boolean {
  return pending > 0;
}
