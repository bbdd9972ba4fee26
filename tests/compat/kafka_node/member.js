// One kafkajs consumer-group member, driven by tests/compat/group_harness.py.
//
//   node member.js '{"bootstrap": ..., "topic": ..., "group": ..., "session_ms": 6000,
//                    "heartbeat_ms": 1000, "auto_commit": false}'
//
// Reports the same JSON lines as tests/compat/group_member.py (subscribed, assignment,
// record, committed, closed, error). "stop" on stdin disconnects (LeaveGroup); SIGKILL
// from the test is a crash. Without auto-commit each record's offset is committed
// before the next record is reported.
'use strict'
const readline = require('readline')
const { Kafka, logLevel } = require('kafkajs')

const o = JSON.parse(process.argv[2])
const emit = (event, fields = {}) =>
  process.stdout.write(JSON.stringify({ event, t: Date.now() / 1000, ...fields }) + '\n')

async function main () {
  const kafka = new Kafka({
    clientId: o.client_id || 'kafkajs-member',
    brokers: [o.bootstrap],
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 100, retries: 20 }
  })
  const consumer = kafka.consumer({
    groupId: o.group,
    sessionTimeout: o.session_ms,
    heartbeatInterval: o.heartbeat_ms,
    maxWaitTimeInMs: 100
  })
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const partitions = (e.payload.memberAssignment[o.topic] || []).slice().sort((a, b) => a - b)
    emit('assigned', { partitions })
    emit('assignment', { partitions, leader: e.payload.isLeader, protocol: e.payload.groupProtocol })
  })
  consumer.on(consumer.events.CRASH, (e) => emit('error', { error: String(e.payload.error) }))

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    await consumer.disconnect()
    emit('closed')
    process.exit(0)
  }
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'stop') stop()
  }).on('close', stop)

  await consumer.connect()
  await consumer.subscribe({ topics: [o.topic], fromBeginning: true })
  emit('subscribed')
  await consumer.run({
    autoCommit: o.auto_commit,
    autoCommitInterval: 200,
    eachMessage: async ({ topic, partition, message }) => {
      emit('record', { p: partition, o: Number(message.offset), v: message.value ? message.value.toString() : '' })
      if (!o.auto_commit) {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }])
        emit('committed')
      }
    }
  })
}

main().catch((err) => {
  emit('error', { error: String(err && err.stack ? err.stack : err) })
  process.exit(1)
})
