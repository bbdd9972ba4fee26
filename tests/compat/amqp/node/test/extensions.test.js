// amqplib (Node) against the broker named by AMQP_URL: RabbitMQ's extensions as a Node service uses
// them — dead-lettering with x-death, TTL, a length limit with publisher nacks, priorities, direct
// reply-to RPC, a quorum queue's delivery limit. Started by tests/compat/amqp/test_extensions_amqplib.py
// with AMQP_URL, MQGW_PREFIX (unique names per run) and MQGW_LEGACY=1 when the broker is RabbitMQ 3.x.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const amqp = require('amqplib');

const URL = process.env.AMQP_URL;
const PREFIX = process.env.MQGW_PREFIX || `mqgw.node-ext.${process.pid}`;
const LEGACY = process.env.MQGW_LEGACY === '1';
const name = (suffix) => `${PREFIX}.${suffix}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withChannel(fn) {
  const conn = await amqp.connect(URL);
  conn.on('error', () => {});
  const ch = await conn.createConfirmChannel();
  ch.on('error', () => {});
  try {
    return await fn(ch, conn);
  } finally {
    await conn.close().catch(() => {});
  }
}

async function getOne(ch, queue, options = { noAck: true }, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const msg = await ch.get(queue, options);
    if (msg) return msg;
    if (Date.now() > deadline) assert.fail(`nothing arrived in ${queue}`);
    await sleep(25);
  }
}

function publish(ch, exchange, key, body, options = {}) {
  return new Promise((resolve, reject) => {
    ch.publish(exchange, key, Buffer.from(body), options, (err) => (err ? reject(err) : resolve()));
  });
}

test('dead-lettering: x-death after a nack, expiration moved to original-expiration', async () => {
  await withChannel(async (ch) => {
    const src = name('src');
    const dlq = name('dlq');
    await ch.assertQueue(dlq, { durable: false });
    await ch.assertQueue(src, { durable: false, deadLetterExchange: '', deadLetterRoutingKey: dlq });
    await publish(ch, '', src, 'failing', { expiration: '60000', headers: { attempt: 1 } });
    const msg = await getOne(ch, src, { noAck: false });
    ch.nack(msg, false, false);
    const dead = await getOne(ch, dlq);
    assert.equal(dead.content.toString(), 'failing');
    assert.equal(dead.fields.routingKey, dlq);
    assert.equal(dead.properties.expiration, undefined);
    const [death] = dead.properties.headers['x-death'];
    assert.equal(death.count, 1);
    assert.equal(death.reason, 'rejected');
    assert.equal(death.queue, src);
    assert.equal(death.exchange, '');
    assert.deepEqual(death['routing-keys'], [src]);
    assert.equal(death['original-expiration'], '60000');
    assert.ok(death.time instanceof Object || typeof death.time === 'number');
    assert.equal(dead.properties.headers['x-first-death-reason'], 'rejected');
    assert.equal(dead.properties.headers['x-last-death-queue'], LEGACY ? undefined : src);
    assert.equal(dead.properties.headers.attempt, 1);
    await ch.deleteQueue(src);
    await ch.deleteQueue(dlq);
  });
});

test('queue TTL expires messages that nobody takes', async () => {
  await withChannel(async (ch) => {
    const q = name('ttl');
    await ch.assertQueue(q, { durable: false, messageTtl: 150 });
    await publish(ch, '', q, 'short-lived');
    const deadline = Date.now() + 5000;
    while ((await ch.checkQueue(q)).messageCount !== 0) {
      if (Date.now() > deadline) assert.fail('the message did not expire');
      await sleep(50);
    }
    await ch.deleteQueue(q);
  });
});

test('x-overflow reject-publish: the publisher gets a nack', async () => {
  await withChannel(async (ch) => {
    const q = name('capped');
    await ch.assertQueue(q, { durable: false, maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } });
    await publish(ch, '', q, 'fits');
    await assert.rejects(publish(ch, '', q, 'refused'));
    assert.equal((await ch.checkQueue(q)).messageCount, 1);
    await ch.deleteQueue(q);
  });
});

test('priority queue serves the highest priority first', async () => {
  await withChannel(async (ch) => {
    const q = name('prio');
    await ch.assertQueue(q, { durable: false, maxPriority: 10 });
    for (const [body, priority] of [['low', 1], ['high', 9], ['none', undefined], ['mid', 5]]) {
      await publish(ch, '', q, body, priority === undefined ? {} : { priority });
    }
    const order = [];
    for (let i = 0; i < 4; i += 1) order.push((await getOne(ch, q)).content.toString());
    assert.deepEqual(order, ['high', 'mid', 'low', 'none']);
    await ch.deleteQueue(q);
  });
});

test('direct reply-to: RPC without a reply queue', async () => {
  await withChannel(async (ch) => {
    const requests = name('rpc');
    await ch.assertQueue(requests, { durable: false });
    await ch.consume(requests, (msg) => {
      if (msg === null) return; // cancelled: the queue is deleted at the end
      ch.publish('', msg.properties.replyTo, Buffer.from(msg.content.toString().toUpperCase()),
        { correlationId: msg.properties.correlationId });
      ch.ack(msg);
    });
    const replies = [];
    await ch.consume('amq.rabbitmq.reply-to', (msg) => replies.push(msg), { noAck: true });
    await publish(ch, '', requests, 'ping', { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c-1' });
    const deadline = Date.now() + 5000;
    while (replies.length === 0) {
      if (Date.now() > deadline) assert.fail('no reply');
      await sleep(20);
    }
    assert.equal(replies[0].content.toString(), 'PING');
    assert.equal(replies[0].properties.correlationId, 'c-1');
    assert.match(replies[0].fields.routingKey, /^amq\.rabbitmq\.reply-to\./);
    await ch.deleteQueue(requests);
  });
});

test('quorum queue: delivery limit dead-letters a poison message', async () => {
  await withChannel(async (ch) => {
    const q = name('quorum');
    const dlq = name('poison');
    await ch.assertQueue(dlq, { durable: false });
    await ch.assertQueue(q, {
      durable: true,
      arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 1 },
      deadLetterExchange: '',
      deadLetterRoutingKey: dlq,
    });
    await publish(ch, '', q, 'poison');
    const counts = [];
    for (let i = 0; i < 2; i += 1) {
      const msg = await getOne(ch, q, { noAck: false });
      counts.push((msg.properties.headers || {})['x-delivery-count']);
      ch.nack(msg, false, true);
    }
    assert.deepEqual(counts, [LEGACY ? 0 : undefined, 1]);
    const dead = await getOne(ch, dlq);
    assert.equal(dead.properties.headers['x-death'][0].reason, 'delivery_limit');
    await ch.deleteQueue(q);
    await ch.deleteQueue(dlq);
  });
});
