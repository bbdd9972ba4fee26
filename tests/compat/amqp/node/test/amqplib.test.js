// amqplib (Node) against the broker named by AMQP_URL: the core flows a Node service runs.
// Started by tests/compat/amqp/test_amqplib.py with AMQP_URL and MQGW_PREFIX (unique names per run);
// every test deletes what it declared.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');

const URL = process.env.AMQP_URL;
const PREFIX = process.env.MQGW_PREFIX || `mqgw.node.${process.pid}`;
const name = (suffix) => `${PREFIX}.${suffix}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Wait until value() equals expected, then a little longer to show it stays there.
async function settlesAt(value, expected, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (value() !== expected) {
    if (Date.now() > deadline) assert.fail(`reached ${value()}, expected ${expected}`);
    await sleep(20);
  }
  await sleep(300);
  assert.equal(value(), expected);
}

function withPassword(url, password) {
  const u = new globalThis.URL(url);
  u.password = password;
  return u.toString();
}

async function withConnection(fn) {
  const conn = await amqp.connect(URL);
  conn.on('error', () => {});
  try {
    return await fn(conn);
  } finally {
    await conn.close().catch(() => {});
  }
}

test('handshake: server properties and capabilities', async () => {
  await withConnection(async (conn) => {
    const props = conn.connection.serverProperties;
    assert.equal(typeof props.product, 'string');
    assert.equal(typeof props.version, 'string');
    for (const key of ['publisher_confirms', 'exchange_exchange_bindings', 'basic.nack',
      'consumer_cancel_notify', 'authentication_failure_close', 'per_consumer_qos']) {
      assert.equal(props.capabilities[key], true, key);
    }
  });
});

test('bad credentials are refused with ACCESS_REFUSED', async () => {
  await assert.rejects(amqp.connect(withPassword(URL, 'wrong-password')), (err) => {
    assert.match(err.message, /ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
    return true;
  });
});

test('unknown vhost is answered with connection.close', async () => {
  const u = new globalThis.URL(URL);
  u.pathname = '/no-such-vhost';
  // amqplib reports only the frame it got instead of open-ok; the pika and raw tests check the text
  await assert.rejects(amqp.connect(u.toString()), /Expected ConnectionOpenOk; got <ConnectionClose channel:0>/);
});

test('declare, bind, publish with properties, consume and ack', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createChannel();
    const ex = name('topic');
    const q = name('q');
    await ch.assertExchange(ex, 'topic', { durable: false });
    const ok = await ch.assertQueue(q, { durable: false });
    assert.deepEqual([ok.queue, ok.messageCount, ok.consumerCount], [q, 0, 0]);
    await ch.bindQueue(q, ex, 'logs.*');
    const headers = { small: 5, short: -300, int: 70000, long: 2 ** 40, float: 1.5, str: 'ünï',
      flag: true, nested: { a: 'b' }, list: [1, 'two'] };
    for (let i = 0; i < 3; i++) {
      ch.publish(ex, `logs.${i}`, Buffer.from(`line ${i}`), {
        contentType: 'text/plain', contentEncoding: 'utf-8', headers, deliveryMode: 2, priority: 4,
        correlationId: `c${i}`, replyTo: 'rq', expiration: '60000', messageId: `m${i}`,
        timestamp: 1700000000, type: 'log', appId: 'node-test',
      });
    }
    ch.publish(ex, 'other.0', Buffer.from('not routed'));
    const got = [];
    await new Promise((resolve, reject) => {
      ch.consume(q, (msg) => {
        if (msg === null) return; // basic.cancel from the server when the queue is deleted below
        got.push(msg);
        ch.ack(msg);
        if (got.length === 3) resolve();
      }).catch(reject);
    });
    got.forEach((msg, i) => {
      assert.equal(msg.content.toString(), `line ${i}`);
      assert.equal(msg.fields.routingKey, `logs.${i}`);
      assert.equal(msg.fields.exchange, ex);
      assert.equal(msg.fields.redelivered, false);
      assert.match(msg.fields.consumerTag, /^amq\.ctag-/);
      const p = msg.properties;
      assert.deepEqual([p.contentType, p.contentEncoding, p.deliveryMode, p.priority, p.correlationId, p.replyTo,
        p.expiration, p.messageId, p.timestamp, p.type, p.appId],
      ['text/plain', 'utf-8', 2, 4, `c${i}`, 'rq', '60000', `m${i}`, 1700000000, 'log', 'node-test']);
      assert.deepEqual(p.headers, headers);
    });
    await ch.deleteQueue(q);
    await ch.deleteExchange(ex);
  });
});

test('server-named exclusive queue, get and nack with requeue', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/);
    ch.sendToQueue(queue, Buffer.from('a'));
    ch.sendToQueue(queue, Buffer.from('b'));
    await ch.waitForConfirms();
    const first = await ch.get(queue, { noAck: false });
    assert.equal(first.content.toString(), 'a');
    assert.equal(first.fields.messageCount, 1);
    ch.nack(first, false, true);
    const again = await ch.get(queue, { noAck: false });
    assert.deepEqual([again.content.toString(), again.fields.redelivered], ['a', true]);
    ch.ack(again);
    const second = await ch.get(queue, { noAck: true });
    assert.equal(second.content.toString(), 'b');
    assert.equal(await ch.get(queue), false);
  });
});

test('publisher confirms and mandatory returns', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createConfirmChannel();
    const q = name('confirm');
    await ch.assertQueue(q);
    const returned = new Promise((resolve) => ch.on('return', resolve));
    const acked = [];
    for (let i = 0; i < 20; i++) {
      ch.sendToQueue(q, Buffer.from(`${i}`), {}, (err) => acked.push(err));
    }
    await ch.waitForConfirms();
    assert.equal(acked.length, 20);
    assert.ok(acked.every((err) => err === null || err === undefined));
    const bounced = await new Promise((resolve, reject) => {
      ch.publish('amq.direct', name('nowhere'), Buffer.from('bounce'), { mandatory: true },
        (err) => (err ? reject(err) : resolve(true)));
    });
    assert.equal(bounced, true); // confirmed after the return
    const msg = await returned;
    assert.deepEqual([msg.fields.replyCode, msg.fields.replyText, msg.fields.exchange, msg.fields.routingKey],
      [312, 'NO_ROUTE', 'amq.direct', name('nowhere')]);
    assert.equal(msg.content.toString(), 'bounce');
    const check = await ch.checkQueue(q);
    assert.equal(check.messageCount, 20);
    await ch.deleteQueue(q);
  });
});

test('a missing queue closes the channel with 404, the connection survives', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createChannel();
    const closed = new Promise((resolve) => ch.on('error', resolve));
    await assert.rejects(ch.checkQueue(name('missing')), (err) => {
      assert.equal(err.code, 404);
      assert.match(err.message, new RegExp(`NOT_FOUND - no queue '${name('missing').replace(/\./g, '\\.')}' in vhost '/'`));
      return true;
    });
    await closed;
    const ch2 = await conn.createChannel();
    const { queue } = await ch2.assertQueue('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/);
  });
});

test('prefetch limits unacked deliveries per consumer', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createChannel();
    const q = name('prefetch');
    await ch.assertQueue(q);
    for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`${i}`));
    await ch.prefetch(2);
    const got = [];
    const { consumerTag } = await ch.consume(q, (msg) => got.push(msg));
    await settlesAt(() => got.length, 2);
    ch.ack(got[1], true); // multiple: both
    await settlesAt(() => got.length, 4);
    await ch.cancel(consumerTag);
    ch.ackAll();
    await sleep(100);
    const check = await ch.checkQueue(q);
    assert.equal(check.messageCount, 6);
    await ch.deleteQueue(q);
  });
});

test('consumer cancel notification when the queue is deleted', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createChannel();
    const q = name('cancelled');
    await ch.assertQueue(q);
    const cancelled = new Promise((resolve) => {
      ch.consume(q, (msg) => { if (msg === null) resolve(true); });
    });
    const other = await conn.createChannel();
    await other.deleteQueue(q);
    assert.equal(await cancelled, true);
  });
});

test('exchange-to-exchange binding and headers exchange', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createConfirmChannel();
    const src = name('src');
    const dst = name('dst');
    const q = name('e2e');
    await ch.assertExchange(src, 'fanout', { durable: false });
    await ch.assertExchange(dst, 'headers', { durable: false });
    await ch.bindExchange(dst, src, '');
    await ch.assertQueue(q);
    await ch.bindQueue(q, dst, '', { 'x-match': 'all', kind: 'invoice', region: 'eu' });
    ch.publish(src, '', Buffer.from('yes'), { headers: { kind: 'invoice', region: 'eu', extra: 1 } });
    ch.publish(src, '', Buffer.from('no'), { headers: { kind: 'invoice' } });
    await ch.waitForConfirms();
    const msg = await ch.get(q, { noAck: true });
    assert.equal(msg.content.toString(), 'yes');
    assert.equal(await ch.get(q), false);
    await ch.unbindExchange(dst, src, '');
    await ch.deleteQueue(q);
    await ch.deleteExchange(src);
    await ch.deleteExchange(dst);
  });
});

test('large and empty bodies', async () => {
  await withConnection(async (conn) => {
    const ch = await conn.createConfirmChannel();
    const q = name('sizes');
    await ch.assertQueue(q);
    const big = Buffer.alloc(1024 * 1024 + 17, 7);
    ch.sendToQueue(q, big);
    ch.sendToQueue(q, Buffer.alloc(0));
    await ch.waitForConfirms();
    const a = await ch.get(q, { noAck: true });
    const b = await ch.get(q, { noAck: true });
    assert.ok(a.content.equals(big));
    assert.equal(b.content.length, 0);
    await ch.deleteQueue(q);
  });
});

test('connection.update-secret', async () => {
  await withConnection(async (conn) => {
    const password = new globalThis.URL(URL).password;
    await conn.updateSecret(Buffer.from(decodeURIComponent(password)), 'rotation');
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/);
  });
});
