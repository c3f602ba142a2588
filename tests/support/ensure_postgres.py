"""Print a URL of a fresh PostgreSQL test database on 127.0.0.1, or nothing if none can be had."""

import os
import sys

import psycopg2

ADMIN_URL = os.environ.get("POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NAME = os.environ.get("TEST_POSTGRES_DB", "childcare_test")


def main() -> int:
    try:
        conn = psycopg2.connect(ADMIN_URL, connect_timeout=3)
        conn.autocommit = True  # CREATE DATABASE runs outside a transaction
        try:
            with conn.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
                cursor.execute(f'CREATE DATABASE "{NAME}"')
        finally:
            conn.close()
    except psycopg2.Error as error:
        print(f"cannot prepare PostgreSQL: {error}", file=sys.stderr)
        return 0
    print(ADMIN_URL.rsplit("/", 1)[0] + "/" + NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
