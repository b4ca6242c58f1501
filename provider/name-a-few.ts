// provider/rollout.ts imports nameAFew from here; the module lives in shared/, which the program
// and the provider both import. This file goes once rollout.ts imports shared/name-a-few.
export { NAMED, nameAFew } from '../shared/name-a-few';
