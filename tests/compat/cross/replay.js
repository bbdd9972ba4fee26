// kafkajs consumer that replays a topic from the beginning and prints each record as a JSON line.
//   node replay.js '{"bootstrap": ..., "topic": ..., "count": N}'
'use strict'
const path = require('path')
const { Kafka, logLevel } = require(path.join(__dirname, '..', 'kafka_node', 'node_modules', 'kafkajs'))

async function main () {
  const o = JSON.parse(process.argv[2])
  const kafka = new Kafka({ clientId: 'replay', brokers: [o.bootstrap], logLevel: logLevel.ERROR })
  const consumer = kafka.consumer({ groupId: 'replay-' + process.pid + '-' + Date.now(), maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic: o.topic, fromBeginning: true })
  let seen = 0
  await new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        const headers = {}
        for (const [k, v] of Object.entries(message.headers || {})) headers[k] = v.toString('hex')
        process.stdout.write(JSON.stringify({ partition, offset: message.offset, value: message.value.toString('hex'), headers }) + '\n')
        if (++seen >= o.count) resolve()
      }
    })
  })
  await consumer.disconnect()
}
main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
