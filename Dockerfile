# mqgateway: Kafka and AMQP 0-9-1 on one engine, data on a volume.
#   docker build -t mqgateway . && docker run -p 9092:9092 -p 5672:5672 -v mqgw:/data mqgateway
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY engine ./engine
COPY kafka_wire ./kafka_wire
COPY amqp_wire ./amqp_wire
COPY tests ./tests
RUN pip install --no-cache-dir .
VOLUME /data
EXPOSE 9092 5672
# Inside a container every client is remote, and RabbitMQ's guest user may only connect
# from loopback: set MQGW_AMQP_USER / MQGW_AMQP_PASSWORD to a user of your own.
# The Kafka address advertised is localhost:9092, right for `-p 9092:9092`; set
# MQGW_KAFKA_ADVERTISED for anything else.
ENV MQGW_DATA_DIR=/data \
    MQGW_KAFKA=0.0.0.0:9092 \
    MQGW_AMQP=0.0.0.0:5672
CMD ["mqgateway", "serve"]
