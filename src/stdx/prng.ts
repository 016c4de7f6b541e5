// A small seeded pseudo-random generator (xorshift128+ on two 32-bit halves, made simple as
// sfc32) for tests, simulations and load generation. Never used for ids that need to be
// unguessable.

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let round = 0; round < 16; round++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform integer in [0, bound). */
  nextInt(bound: number): number {
    if (!(bound > 0 && bound <= 2 ** 32)) throw new RangeError("Prng.nextInt: bad bound");
    return Math.floor((this.nextUint32() / 2 ** 32) * bound);
  }

  /** True with probability `probability`. */
  chance(probability: number): boolean {
    return this.nextUint32() / 2 ** 32 < probability;
  }
}
