/** What the store needs of a design view (web/api.ts's DesignView has it). */
export interface StoredDesign {
  id: string;
  status: string;
  created_at: string;
  updated_at: string;
}

/**
 * The page's copy of the user's designs. Three sources write to it and their answers arrive in
 * any order: the event stream, the API's answers to the page's own requests (save, re-render,
 * delete), and the list the page reloads after a reconnect. Without an order between them a
 * late answer overwrites a newer state: the list, read before a design was published and
 * answered after the stream told of it, would show it RENDERING for good.
 *
 * So every write keeps the newer state by `updated_at` (every committed change moves it on),
 * a deleted design stays deleted (ids are never reused), and a reload replaces the copy with
 * the list except for what the stream told while the list was on its way.
 */
export class DesignStore<DesignView extends StoredDesign> {
  private readonly views = new Map<string, DesignView>();
  private readonly deleted = new Set<string>();
  /** Per reload in flight: the ids written since it began (null: deleted). */
  private readonly reloads = new Set<Map<string, DesignView | null>>();

  get(id: string): DesignView | undefined {
    return this.views.get(id);
  }

  /** Newest first, as "My designs" lists them. */
  newestFirst(): DesignView[] {
    return [...this.views.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  /** Records `view` unless the copy holds a newer state of it, or it was deleted. Returns whether it was taken. */
  put(view: DesignView): boolean {
    if (view.status === 'DELETED') {
      this.remove(view.id);
      return true;
    }
    if (this.deleted.has(view.id)) return false;
    const held = this.views.get(view.id);
    if (held && isOlder(view, held)) return false;
    this.views.set(view.id, view);
    for (const written of this.reloads) written.set(view.id, view);
    return true;
  }

  remove(id: string): void {
    this.deleted.add(id);
    this.views.delete(id);
    for (const written of this.reloads) written.set(id, null);
  }

  /**
   * Replaces the copy with the list `load` answers, keeping what was written while it loaded
   * where that is newer. A failed load changes nothing.
   */
  async reload(load: () => Promise<DesignView[]>): Promise<void> {
    const written = new Map<string, DesignView | null>();
    this.reloads.add(written);
    try {
      const listed = await load();
      this.views.clear();
      for (const view of listed) if (!this.deleted.has(view.id)) this.views.set(view.id, view);
      for (const [id, view] of written) {
        if (view === null) continue;
        const held = this.views.get(id);
        if (!held || !isOlder(view, held)) this.views.set(id, view);
      }
    } finally {
      this.reloads.delete(written);
    }
  }

  /** Forgets everything (sign-out). */
  clear(): void {
    this.views.clear();
    this.deleted.clear();
  }
}

/** Whether `a` is an earlier state than `b` (ISO timestamps of one format compare as text). */
function isOlder(a: StoredDesign, b: StoredDesign): boolean {
  return a.updated_at < b.updated_at;
}
