// One byte budget (BODY_LIMIT_BYTES) for the whole request body, multipart fields included, enforced
// as the body arrives: 413 as soon as it is passed, without reading the rest, and the connection
// closed. Over a real socket, since `inject` hands the server the whole body at once and has no
// client that is still sending.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { multipart, startTestServer, testPng, type TestServer } from '../helpers/app.ts';

const MODEL = 'tiny-het-xl';
const CLASSIFY = `/v1/models/${MODEL}/classify`;
const LIMIT = 1024 * 1024;
/** What each hostile body would be if sent in full: 64 times the limit. */
const HUGE = 64 * LIMIT;
const BOUNDARY = 'B';

let server: TestServer;
/** Small zero-shot limits, so one multipart field may hold at most max(1024, 8 x 10 x 10) = 1024 bytes. */
let smallFields: TestServer;
let port: number;

before(async () => {
  const populate = async (dir: string) => {
    await makeTinyCheckpoint(dir, { name: MODEL, type: 'het-xl', covariance: 'param-efficient' });
  };
  // Default field limits (1048 fields of up to 1.6 MB each): only the body budget stops the body.
  server = await startTestServer(populate, { bodyLimitBytes: LIMIT });
  smallFields = await startTestServer(populate, { bodyLimitBytes: LIMIT, maxLabelLength: 10, maxZeroShotLabels: 10, maxZeroShotTemplates: 10 });
  const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
  port = Number(new URL(address).port);
});
after(async () => {
  await server.close();
  await smallFields.close();
});

interface Exchange {
  status: number;
  headers: string;
  body: { code?: string; message?: string };
  /** Body bytes the client had written when the response came. */
  sent: number;
  /** Resolves when the server closes the connection. */
  closed: Promise<void>;
}

/**
 * Writes `head`, then the body chunk by chunk (waiting for the socket to drain) until the chunks
 * run out or a whole response has arrived; resolves with the response and how much was sent by then.
 */
async function exchange(head: string, chunks: Iterable<Buffer>): Promise<Exchange> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {}); // EPIPE / ECONNRESET once the server has closed: expected here
  const closed = new Promise<void>((r) => socket.once('close', r));
  let sent = 0;
  let received = Buffer.alloc(0);
  let answered: Omit<Exchange, 'closed'> | undefined;
  const response = new Promise<void>((resolve) => {
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (answered || end < 0) return;
      const headers = text.slice(0, end).toLowerCase();
      const length = Number(/content-length: (\d+)/.exec(headers)?.[1] ?? 0);
      if (received.length < end + 4 + length) return;
      answered = { status: Number(text.slice(9, 12)), headers, body: JSON.parse(text.slice(end + 4, end + 4 + length)), sent };
      resolve();
    });
  });
  const stop = Promise.race([response, closed]);
  await new Promise<void>((r) => socket.once('connect', r));
  socket.write(head);
  for (const chunk of chunks) {
    if (answered || socket.destroyed) break;
    sent += chunk.length;
    if (!socket.write(chunk)) await Promise.race([new Promise<void>((r) => socket.once('drain', r)), stop]);
  }
  await response;
  return { ...answered!, closed: closed.finally(() => socket.destroy()) };
}

function head(contentType: string, length?: number): string {
  const framing = length === undefined ? 'transfer-encoding: chunked' : `content-length: ${length}`;
  return `POST ${CLASSIFY} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${contentType}\r\n${framing}\r\n\r\n`;
}

/** HTTP/1.1 chunked framing of each piece. */
function* chunked(pieces: Iterable<Buffer>): Generator<Buffer> {
  for (const piece of pieces) yield Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
  yield Buffer.from('0\r\n\r\n');
}

/** The body: multipart fields of `fieldBytes` each, `count` of them, in 64 KiB pieces. */
function* fields(count: number, fieldBytes: number): Generator<Buffer> {
  const piece = Buffer.alloc(64 * 1024, 'a');
  for (let i = 0; i < count; i++) {
    yield Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="x${i}"\r\n\r\n`);
    for (let left = fieldBytes; left > 0; left -= piece.length) yield piece.subarray(0, Math.min(left, piece.length));
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`--${BOUNDARY}--\r\n`);
}

/** One field that makes the body exactly `total` bytes, for a Content-Length body. */
function* oneFieldOf(total: number): Generator<Buffer> {
  const prefix = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n`);
  const suffix = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  yield prefix;
  const piece = Buffer.alloc(64 * 1024, 'a');
  for (let left = total - prefix.length - suffix.length; left > 0; left -= piece.length) yield piece.subarray(0, Math.min(left, piece.length));
  yield suffix;
}

async function assertRefusedEarly(t: TestContext, res: Exchange) {
  t.diagnostic(`${res.status} after ${res.sent} of ${HUGE} body bytes sent`);
  assert.equal(res.status, 413, JSON.stringify(res.body));
  assert.equal(res.body.code, 'BODY_TOO_LARGE');
  assert.match(res.body.message ?? '', new RegExp(`${LIMIT} bytes \\(BODY_LIMIT_BYTES\\)`));
  assert.match(res.headers, /connection: close/);
  // Answered with most of the body unsent: the limit plus what socket buffers hold, far below HUGE.
  assert.ok(res.sent < HUGE / 2, `the client had sent ${res.sent} of ${HUGE} bytes before the 413`);
  // The server closes the connection rather than reading the rest (a server that kept reading
  // would leave this pending, and the test would fail at its timeout).
  await res.closed;
}

const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

describe('the body budget over a real socket', () => {
  test('a Content-Length over the limit is refused at once, not after reading', async (t) => {
    // The 413 is sent on seeing the header, so at most what the client wrote meanwhile went out.
    await assertRefusedEarly(t, await exchange(head(MULTIPART, HUGE), oneFieldOf(HUGE)));
  });

  test('a chunked body of many large fields gets its 413 while the client is still sending', async (t) => {
    // 128 fields of 512 KiB, each under the field limit and within the field count, 64 MiB in all.
    await assertRefusedEarly(t, await exchange(head(MULTIPART), chunked(fields(128, 512 * 1024))));
  });

  test('a chunked body of one huge field gets its 413 while the client is still sending', async (t) => {
    await assertRefusedEarly(t, await exchange(head(MULTIPART), chunked(fields(1, HUGE))));
  });

  test('a chunked JSON body over the limit is refused the same way', async (t) => {
    const pieces = function* () {
      yield Buffer.from('{"images": ["');
      for (let i = 0; i < HUGE / (64 * 1024); i++) yield Buffer.alloc(64 * 1024, 'A');
      yield Buffer.from('"]}');
    };
    await assertRefusedEarly(t, await exchange(head('application/json'), chunked(pieces())));
  });

  test('a body under the limit is served, and the server keeps serving after the refusals', async () => {
    const form = await multipart([{ data: await testPng(8, 8, 1) }], { samples: '20' });
    const res = await exchange(head(form.headers['content-type'], form.payload.length), [form.payload]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.doesNotMatch(res.headers, /connection: close/);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
  });
});

describe('multipart limits with inject', () => {
  test('many fields that together pass the limit: 413 BODY_TOO_LARGE', async () => {
    const many = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`x${i}`, 'a'.repeat(1000)]));
    const form = await multipart([{ data: Buffer.alloc(LIMIT, 1) }], many);
    const res = await server.app.inject({ method: 'POST', url: CLASSIFY, ...form });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'BODY_TOO_LARGE');
  });

  test('one field over the field limit: 413 FIELD_TOO_LARGE naming the limit, not a silently cut value', async () => {
    const form = await multipart([{ data: await testPng(8, 8, 1) }], { samples: '1'.repeat(2000) });
    const res = await smallFields.app.inject({ method: 'POST', url: CLASSIFY, ...form });
    assert.equal(res.statusCode, 413, res.body);
    assert.equal(res.json().code, 'FIELD_TOO_LARGE');
    assert.match(res.json().message, /'samples' is over the limit of 1024 bytes .*MAX_LABEL_LENGTH/);
  });

  test('a field just under the field limit is read whole', async () => {
    // 1000 digits of 0s then 5: a valid decimal, parsed in full, so it meets the range check.
    const form = await multipart([{ data: await testPng(8, 8, 1) }], { samples: `${'0'.repeat(1000)}5` });
    const res = await smallFields.app.inject({ method: 'POST', url: CLASSIFY, ...form });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().samples, 5);
  });
});
