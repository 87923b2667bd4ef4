import { describe, expect, it } from 'vitest';
import { DesignStore, type StoredDesign } from '../../web/design-store.js';

/** The studio page's copy of "My designs" (web/design-store.ts): answers that arrive out of order never undo a newer state. */

const at = (second: number) => new Date(Date.UTC(2026, 10, 30, 12, 0, second)).toISOString();
type View = StoredDesign & { status: 'PENDING' | 'RENDERING' | 'PUBLISHED' | 'FAILED' | 'DELETED' };
const view = (id: string, status: View['status'], second: number, created = 0): View => ({ id, status, created_at: at(created), updated_at: at(second) });

/** A load the test answers when it chooses: the list is read now and arrives later. */
function deferred(items: View[]) {
  let answer!: () => void;
  const arrived = new Promise<void>((resolve) => (answer = resolve));
  return { load: async () => { await arrived; return items; }, answer };
}

describe('DesignStore', () => {
  it('keeps an event that arrives while the list is on its way: the list read before the publish does not put the design back to RENDERING', async () => {
    const store = new DesignStore<View>();
    const list = deferred([view('a', 'RENDERING', 1), view('b', 'PUBLISHED', 1)]);
    const reloading = store.reload(list.load);
    store.put(view('a', 'PUBLISHED', 2)); // told by the stream meanwhile
    store.put(view('c', 'PENDING', 3, 3)); // created meanwhile, not in the list
    list.answer();
    await reloading;
    expect(store.get('a')?.status).toBe('PUBLISHED');
    expect(store.get('b')?.status).toBe('PUBLISHED');
    expect(store.newestFirst().map((d) => d.id)).toEqual(['c', 'a', 'b']);
  });

  it('a design deleted while the list is on its way stays deleted, and a late event or answer does not bring it back', async () => {
    const store = new DesignStore<View>();
    store.put(view('a', 'PUBLISHED', 1));
    const list = deferred([view('a', 'PUBLISHED', 1)]);
    const reloading = store.reload(list.load);
    store.remove('a');
    list.answer();
    await reloading;
    expect(store.get('a')).toBeUndefined();
    expect(store.put(view('a', 'PUBLISHED', 5))).toBe(false);
    expect(store.get('a')).toBeUndefined();
    store.put({ ...view('b', 'PUBLISHED', 1), status: 'DELETED' });
    expect(store.put(view('b', 'PUBLISHED', 2))).toBe(false);
  });

  it('an older state never replaces a newer one: a re-render answer (PENDING) arriving after the stream told RENDERING and PUBLISHED', () => {
    const store = new DesignStore<View>();
    store.put(view('a', 'RENDERING', 2));
    store.put(view('a', 'PUBLISHED', 3));
    expect(store.put(view('a', 'PENDING', 1))).toBe(false);
    expect(store.get('a')?.status).toBe('PUBLISHED');
    expect(store.put(view('a', 'PENDING', 4))).toBe(true); // a later re-render is newer
    expect(store.get('a')?.status).toBe('PENDING');
  });

  it('a reload drops what the list no longer holds, and a failed reload changes nothing', async () => {
    const store = new DesignStore<View>();
    store.put(view('a', 'PUBLISHED', 1));
    store.put(view('gone', 'PUBLISHED', 1));
    await store.reload(() => Promise.resolve([view('a', 'PUBLISHED', 1)]));
    expect(store.newestFirst().map((d) => d.id)).toEqual(['a']);
    await expect(store.reload(() => Promise.reject(new Error('offline')))).rejects.toThrow('offline');
    expect(store.newestFirst().map((d) => d.id)).toEqual(['a']);
    store.put(view('b', 'PENDING', 2));
    expect(store.get('b')?.status).toBe('PENDING'); // no reload is left listening
  });

  it('clear() forgets designs and deletions (another user signs in)', () => {
    const store = new DesignStore<View>();
    store.remove('a');
    store.put(view('b', 'PUBLISHED', 1));
    store.clear();
    expect(store.newestFirst()).toEqual([]);
    expect(store.put(view('a', 'PUBLISHED', 1))).toBe(true);
  });
});
