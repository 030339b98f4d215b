"""RabbitMQ: queue names, topology, confirmed publishing and payload formats."""
