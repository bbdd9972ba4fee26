"""AMQP 0-9-1 listener: frames (pamqp) in, neutral engine calls, frames out."""
