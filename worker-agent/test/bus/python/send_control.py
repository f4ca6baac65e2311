"""Publishes one control message the way ai4s-jobq's documentation does: azure-servicebus's
ServiceBusClient, a JSON string as the body. For the tests, from a connection string (the
documented sender uses AzureCliCredential), trusting the emulator's certificate.

usage: send_control.py TOPIC BODY [--websockets]
environment: SERVICEBUS_CONNECTION_STRING, SERVICEBUS_CA_FILE (PEM to trust); with
--websockets, SERVICEBUS_PROXY (http://host:port, an HTTP CONNECT proxy) if any
"""
import os
import sys
from urllib.parse import urlparse

from azure.servicebus import ServiceBusClient, ServiceBusMessage, TransportType


def main() -> int:
    topic, body = sys.argv[1], sys.argv[2]
    options = {"connection_verify": os.environ["SERVICEBUS_CA_FILE"]}
    connection_string = os.environ["SERVICEBUS_CONNECTION_STRING"]
    if "--websockets" in sys.argv[3:]:
        options["transport_type"] = TransportType.AmqpOverWebsocket
        # uamqp connects to port 443 for WebSockets whatever the endpoint says: a custom endpoint
        # names the emulator's port.
        endpoint = next(p for p in connection_string.split(";") if p.lower().startswith("endpoint="))
        options["custom_endpoint_address"] = endpoint.split("=", 1)[1].rstrip("/")
        proxy = os.environ.get("SERVICEBUS_PROXY")
        if proxy:
            url = urlparse(proxy)
            options["http_proxy"] = {"proxy_hostname": url.hostname, "proxy_port": url.port}
    with ServiceBusClient.from_connection_string(connection_string, **options) as client:
        with client.get_topic_sender(topic) as sender:
            sender.send_messages(ServiceBusMessage(body))
    print("sent", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
