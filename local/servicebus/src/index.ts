export type * from './broker/catalogue.js';
