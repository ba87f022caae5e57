/** A bounded memory of keys (gateway deliveries, the SL 651 centre's reports and readings). */

/**
 * The last `capacity` keys added, for an O(1) "seen?": a ring of keys and a set of them. (A bare
 * Set evicting its oldest entry through `values().next()` made an iterator per delivery.)
 */
export class RecentKeys<K> {
  private readonly ring: Array<K | undefined>;
  private readonly set = new Set<K>();
  private at = 0;
  constructor(private readonly capacity: number) {
    this.ring = new Array<K | undefined>(capacity);
  }
  has(key: K): boolean {
    return this.set.has(key);
  }
  add(key: K): void {
    if (this.set.has(key)) return;
    const old = this.ring[this.at];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.at] = key;
    this.set.add(key);
    this.at = (this.at + 1) % this.capacity;
  }
  get size(): number {
    return this.set.size;
  }
}
