// The index page: which adapter webrnn finds here, or why there is none.
import { element, getEngine, wire } from './common.js';

wire(element<HTMLButtonElement>('run'), async () => {
  const engine = await getEngine();
  const a = engine.info;
  return `WebGPU adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ')}${a.software ? ' (software)' : ''}`;
});
