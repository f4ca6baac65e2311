import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { guardFrameSizes } from '../../src/amqp/frame-guard.js';

function feed(chunks: Buffer[], max = 1024): number[] {
  const socket = new EventEmitter();
  const violations: number[] = [];
  guardFrameSizes(socket as never, max, (size) => violations.push(size));
  for (const c of chunks) socket.emit('data', c);
  return violations;
}

const amqpHeader = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');
const frame = (size: number) => Buffer.concat([Buffer.from([size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, 2, 0, 0, 0]), Buffer.alloc(Math.max(0, size - 8))]);

describe('guardFrameSizes', () => {
  it('passes well-formed frames, whole or split at any byte', () => {
    const stream = Buffer.concat([amqpHeader, frame(8), frame(100), frame(1024), amqpHeader, frame(20)]);
    expect(feed([stream])).toEqual([]);
    expect(feed([...stream].map((b) => Buffer.from([b])))).toEqual([]);
  });

  it('flags a frame larger than the maximum, or smaller than its own header, once', () => {
    expect(feed([amqpHeader, frame(16), Buffer.from([0, 0, 4, 1, 2, 0, 0, 0])])).toEqual([1025]);
    expect(feed([amqpHeader, Buffer.from([0, 0, 0, 4, 2, 0, 0, 0]), Buffer.from([0x7f, 0, 0, 0])])).toEqual([4]);
  });
});
