"""An endpoint's places (webhook_endpoint_concurrency) hold over two
instances that claim its messages in the same instant (sql/021): each
claim counts what the other holds only once the other's claim is done."""
import time

from receiver import Receiver
from test_webhook_delivery import dbname, endpoint
from test_webhooks import FAST, daemon_alone

PLACES = ["--webhook-endpoint-concurrency", "2"]


def test_two_instances_claiming_together_keep_the_places(ctx):
    db, k, d1 = daemon_alone(ctx, FAST + PLACES)
    ctx.daemon(db, args=FAST + PLACES)
    rx = Receiver()
    rx.delay = 0.1
    ep = endpoint(d1, k, rx, types=["webhook.test"])
    total = 0
    for _ in range(6):
        # Due together in 1.5 s: both instances' timers claim in the same
        # instant, 100 ms before.
        ctx.cluster.psql(f"""
            INSERT INTO webhook_messages (id, endpoint_id, type, body, next_attempt_at)
            SELECT liaison_message_id(), '{ep['id']}', 'webhook.test',
                   '{{"type": "webhook.test", "n": ' || g || '}}',
                   now() + interval '1.5 seconds'
              FROM generate_series(1, 24) g;
            NOTIFY liaison_messages""", dbname(db))
        total += 24
        rx.wait(total, timeout=30)
        time.sleep(0.3)
    msgs = rx.messages()
    ids = [m["id"] for m in msgs]
    assert len(ids) == total and len(set(ids)) == total, (len(ids), len(set(ids)))
    assert all(m["valid"] for m in msgs)
    assert rx.max_active <= 2, rx.max_active
    assert rx.max_active == 2  # the places are used
