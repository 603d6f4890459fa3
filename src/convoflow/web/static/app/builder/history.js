// Undo and redo: snapshots of the flow (its steps, start and template fields), at most 100.
const LIMIT = 100;

export function createHistory(snapshot, restore) {
  const past = [];
  const future = [];
  let current = snapshot();

  return {
    /** Record the state after a change (call once per user action). */
    record() {
      const next = snapshot();
      if (next === current) return;
      past.push(current);
      if (past.length > LIMIT) past.shift();
      future.length = 0;
      current = next;
    },
    undo() {
      if (!past.length) return false;
      future.push(current);
      current = past.pop();
      restore(current);
      return true;
    },
    redo() {
      if (!future.length) return false;
      past.push(current);
      current = future.pop();
      restore(current);
      return true;
    },
    reset() { past.length = 0; future.length = 0; current = snapshot(); },
    get canUndo() { return past.length > 0; },
    get canRedo() { return future.length > 0; },
  };
}
