// The render thread's entry when the pool itself runs from the TypeScript sources (Vitest,
// tsx): a worker thread starts without the parent's TypeScript loader, and on Node 20 its
// execArgv cannot take --import, so it registers tsx here before loading render-thread.ts.
// Built code (dist/) loads render-thread.js directly and never needs this file.
import { register } from 'tsx/esm/api';

register();
const thread = await import('./render-thread.ts');
export default thread.default;
