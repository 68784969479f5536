"""The console as an Airflow 3 plugin: a FastAPI sub-app mounted by Airflow's API server at ``/claimflow``
and a navigation entry (``external_views``) that opens it inside the Airflow UI.

Airflow finds it through ``plugins/claimflow_console.py`` in its ``plugins_folder``
(``AIRFLOW__CORE__PLUGINS_FOLDER=$PWD/plugins``; docs/CONSOLE.md). Airflow mounts plugin apps without
authentication of their own, so every console route depends on :func:`airflow_user`: Airflow's
``get_user`` (the JWT from the ``_token`` cookie the UI sets, or a bearer token) — a request without a valid
one gets 401/403 and no data. The name written in the audit trail is the auth manager's user name.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.core_api.security import GetUserDep
from airflow.plugins_manager import AirflowPlugin

from claimflow.console.app import create_app

URL_PREFIX = "/claimflow"


async def airflow_user(user: GetUserDep) -> str:
    """The signed-in Airflow user's name (``BaseUser.get_name``), or Airflow's 401/403."""
    return str(user.get_name() or user.get_id())


def console_app() -> Any:
    return create_app(user=airflow_user)


class ClaimflowConsolePlugin(AirflowPlugin):
    name = "claimflow_console"
    fastapi_apps = [{"app": console_app(), "url_prefix": URL_PREFIX, "name": "claimflow RCM console"}]  # noqa: RUF012 - Airflow reads class attributes
    external_views = [  # noqa: RUF012 - Airflow reads class attributes
        {
            "name": "RCM console",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "claimflow",
            "url_route": "claimflow-console",
        }
    ]
