/** A small element builder: the console builds its DOM with textContent only (no innerHTML, so no injection). */
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener);
    else if (k in el && k !== 'list' && k !== 'form') (el as unknown as Record<string, unknown>)[k] = v;
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
  return el;
}

export const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** Replace an element's children only when what they show changed (keeps focus, selection and scroll elsewhere). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** Children without the absent ones (for replaceChildren with optional parts). */
export const kids = (...children: Child[]): Array<Node | string> => children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (typeof c === 'number' ? String(c) : c));

/** Put `el` right after `prev` (first when `prev` is null) in `parent`, moving it only when it is elsewhere. */
export function placeAfter(parent: Element, prev: Element | null, el: Element): void {
  const want = prev ? prev.nextElementSibling : parent.firstElementChild;
  if (want !== el) parent.insertBefore(el, want);
}

/** Remove the keyed elements not seen in this render. */
export function dropUnseen(rows: Map<string, { el: Element }>, seen: Set<string>): void {
  for (const [key, row] of rows) {
    if (seen.has(key)) continue;
    row.el.remove();
    rows.delete(key);
  }
}

/**
 * Work spread over animation frames: jobs run until `budgetMs` of the frame is spent (at least one
 * a frame), the rest in the next frames. A storm's hundred changed rows, a language switch or the
 * map unclustering never make one long task, even on a slow phone (issue 19: no task over 200 ms
 * at 4× CPU throttling). A job queued again under the same key replaces the waiting one.
 */
export function createSlicer(budgetMs = 12) {
  const queue = new Map<unknown, () => void>();
  let scheduled = false;
  const run = () => {
    scheduled = false;
    const until = performance.now() + budgetMs;
    for (const [key, job] of queue) {
      queue.delete(key);
      job();
      if (performance.now() >= until) break;
    }
    if (queue.size) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(run);
  };
  return {
    add(key: unknown, job: () => void): void {
      queue.delete(key);
      queue.set(key, job);
      schedule();
    },
    /** Jobs still waiting (tests and the curious: `document.body.dataset.pending`). */
    pending: () => queue.size,
  };
}

/** One slicer for the whole page: rows of the board and the list, map markers, share the frame budget. */
export const slicer = createSlicer();
