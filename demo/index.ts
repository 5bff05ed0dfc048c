// The index page: which backend webrnn runs here, and why.
import { describeBackend, element, getEngine, wire } from './common.js';

wire(element<HTMLButtonElement>('run'), async () => {
  const engine = await getEngine();
  return describeBackend(engine);
});
