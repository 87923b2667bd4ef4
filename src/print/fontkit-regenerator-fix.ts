/**
 * @pdf-lib/fontkit 1.1.1's build calls a global `regeneratorRuntime` (Babel's generator
 * transform, with its runtime left out of the bundle) in the state machine its Indic and
 * Universal shapers match syllables with. Shaping Devanagari, Bengali, Tamil, Khmer and the
 * other scripts those shapers handle threw "regeneratorRuntime is not defined", so the print
 * files of a design in them failed. Babel's own runtime package defines the global.
 */
import 'regenerator-runtime/runtime.js';
