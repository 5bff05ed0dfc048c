/**
 * The plans a backend keeps per kind of pass, keyed by shape: at most `max` (the least recently
 * used released first), each replaced where it is no longer `current` (built on kernels that
 * are no longer the ones to run).
 */
export class PlanCache<P extends { destroy(): void }> {
  private readonly plans = new Map<string, P>();

  constructor(private readonly max: number) {}

  /** The plan of `key`, made by `create` on a miss or where the cached one is not `current`. */
  get(key: string, create: () => P, current: (plan: P) => boolean = () => true): P {
    let plan = this.plans.get(key);
    if (plan && !current(plan)) {
      this.plans.delete(key);
      plan.destroy();
      plan = undefined;
    }
    if (plan) {
      this.plans.delete(key);
    } else {
      plan = create();
      while (this.plans.size >= this.max) {
        const [oldKey, old] = this.plans.entries().next().value as [string, P];
        old.destroy();
        this.plans.delete(oldKey);
      }
    }
    this.plans.set(key, plan);
    return plan;
  }

  /** Release every plan. */
  clear(): void {
    for (const plan of this.plans.values()) plan.destroy();
    this.plans.clear();
  }
}
