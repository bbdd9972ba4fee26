// kafkajs transactions and read_committed consumption, driven by tests/compat/test_kafka_txn_clients.py.
//
//   node txn.js '{"action": "produce", "bootstrap": ..., "topic": ..., "transactional_id": ...,
//                 "group": ..., "commit": ["c0", ...], "abort": ["a0", ...], "offset": 5}'
//     one transaction with the "commit" values (and, with "group", sendOffsets of "offset" on
//     partition 0 of the topic) committed, then one with the "abort" values aborted.
//   node txn.js '{"action": "fence", ...}'
//     a producer opens a transaction and sends "zombie"; a second producer with the same
//     transactional id connects (InitProducerId) and commits "winner"; then the first tries
//     to commit. Prints the first producer's error.
//   node txn.js '{"action": "consume", "bootstrap": ..., "topic": ..., "count": n,
//                 "read_uncommitted": false}'
//     a consumer with kafkajs defaults (READ_COMMITTED unless told) reads from the beginning
//     until it has `count` values and half a second more (or 10 s pass), then prints them.
//
// Prints one JSON line: {"ok": true, ...} or {"ok": false, "error": ...}.
'use strict'
const { Kafka, logLevel } = require('kafkajs')

const o = JSON.parse(process.argv[2])
const kafka = new Kafka({
  clientId: 'kafkajs-txn',
  brokers: [o.bootstrap],
  logLevel: logLevel.NOTHING,
  retry: { initialRetryTime: 100, retries: 8 }
})
const out = (fields) => process.stdout.write(JSON.stringify(fields) + '\n')

function transactionalProducer () {
  return kafka.producer({ transactionalId: o.transactional_id, maxInFlightRequests: 1, idempotent: true })
}

async function produce () {
  const producer = transactionalProducer()
  await producer.connect()
  const committed = await producer.transaction()
  await committed.send({ topic: o.topic, messages: o.commit.map((value) => ({ value, partition: 0 })) })
  if (o.group) {
    await committed.sendOffsets({
      consumerGroupId: o.group,
      topics: [{ topic: o.topic, partitions: [{ partition: 0, offset: String(o.offset) }] }]
    })
  }
  await committed.commit()
  const aborted = await producer.transaction()
  await aborted.send({ topic: o.topic, messages: o.abort.map((value) => ({ value, partition: 0 })) })
  await aborted.abort()
  await producer.disconnect()
  out({ ok: true })
}

async function fence () {
  const zombie = transactionalProducer()
  await zombie.connect()
  const open = await zombie.transaction()
  await open.send({ topic: o.topic, messages: [{ value: 'zombie', partition: 0 }] })
  const winner = transactionalProducer()
  await winner.connect()
  const won = await winner.transaction()
  await won.send({ topic: o.topic, messages: [{ value: 'winner', partition: 0 }] })
  await won.commit()
  let error = null
  try {
    await open.commit()
  } catch (e) {
    error = e.type || e.name || String(e)
  }
  await winner.disconnect()
  await zombie.disconnect().catch(() => {})
  out({ ok: true, zombie_error: error })
}

async function consume () {
  const consumer = kafka.consumer({
    // The pid makes the group unique: two readers started in the same millisecond must not share one.
    groupId: o.group || `kafkajs-reader-${process.pid}-${Date.now()}`,
    readUncommitted: !!o.read_uncommitted,
    maxWaitTimeInMs: 100
  })
  await consumer.connect()
  await consumer.subscribe({ topics: [o.topic], fromBeginning: true })
  const values = []
  let finish
  const done = new Promise((resolve) => { finish = resolve })
  const timer = setTimeout(finish, o.timeout_ms || 10000)
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value.toString())
      // Linger a little after the expected count, so a record that should not come shows up.
      if (values.length === o.count) setTimeout(finish, 500)
    }
  })
  await done
  clearTimeout(timer)
  await consumer.disconnect()
  out({ ok: true, values })
}

const actions = { produce, fence, consume }
actions[o.action]().catch((err) => {
  out({ ok: false, error: String(err && err.stack ? err.stack : err) })
  process.exit(1)
})
