"""Pool lifecycle and fallback strategies: health state, init hook, leak warnings, retries
and a circuit breaker. Run: python examples/python/resilience.py postgresql://user:pass@host/db"""

from __future__ import annotations

import asyncio
import logging
import sys

from db_pool import CircuitBreaker, DatabasePool, RetryWithBackoff


async def main(url: str) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    async with DatabasePool() as pool:
        await pool.create_pool(
            "app", url=url, min_connections=2, max_connections=5,
            health_check_interval=5, check_on_borrow="after_idle",
            init_sql=["SET application_name = 'resilience-example'", "SET TIME ZONE 'UTC'"],
            reset_session=True, leak_detection_threshold=0.2, query_timeout=10,
            retry=RetryWithBackoff(max_attempts=3, base_delay=0.05),
            circuit_breaker=CircuitBreaker(failure_threshold=5, recovery_timeout=10),
        )
        df = await pool.query("app", "SELECT current_setting('TimeZone') AS tz")
        print("time zone from init_sql:", df["tz"][0])
        async with pool.transaction("app") as tx:  # held too long: logged as a possible leak
            await tx.query("SELECT 1")
            await asyncio.sleep(0.5)
        status = pool.get_pool_status("app")
        print(f"health={status['health']} breaker={status['circuit_breaker']} "
              f"leaks_reported={status['leaks_reported']}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1/postgres"))
