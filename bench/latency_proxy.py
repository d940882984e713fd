"""A TCP proxy that holds every chunk for a fixed time in each direction, order kept: a
registry that far away, whatever the protocol on top (HTTP/1.1, HTTP/2, TLS handshakes). A new
connection also waits one round trip, as a TCP handshake would.

    python3 bench/latency_proxy.py LISTEN_PORT TARGET_PORT ONE_WAY_MS
"""
import asyncio
import sys
import time


async def pump(reader, writer, one_way):
    """Copies reader to writer, each chunk delivered one_way seconds after it arrived."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(deliver())
    try:
        while data := await reader.read(65536):
            await queue.put((time.monotonic() + one_way, data))
    except (ConnectionError, OSError):
        pass
    await queue.put((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def main(listen, target, one_way):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_writer.close()
            return
        await asyncio.sleep(2 * one_way)
        await asyncio.gather(
            pump(client_reader, server_writer, one_way), pump(server_reader, client_writer, one_way)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000.0))
