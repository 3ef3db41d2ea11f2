/**
 * Price of a successful task (the contract's pricing; README, "Credits"): 2 credits when the input's long
 * edge is at most 2048 px, 3 credits up to 4096 px.
 */
export function creditCost(width: number, height: number): number {
  return Math.max(width, height) <= 2048 ? 2 : 3;
}
