"""Collecting committee meetings from councils' ModernGov web services.

The pipeline for one council is plan (read what we hold; planner.py) → fetch (network only, nothing
written) → store (one transaction). Everything is fetched before anything is written, so
a failure half-way never leaves a council's data half-updated.

    addresses.py   which IP addresses we may connect to (the SSRF guard's policy)
    http_client.py the HTTP client (`Fetcher`): pinned addresses, redirects, size cap,
                   conditional GET
    politeness.py  one request in flight per host, a pause between requests to a host
    safexml.py     locked-down XML parsing and the value quirks of ModernGov XML
    moderngov.py   ModernGov URLs and parsers for GetMeetings / GetMeeting
    committees.py  which committees of a (possibly shared) install belong to a council
    planner.py     what to fetch for a council (the plan), and fetching it
    store.py       upserting what was fetched and recording changes; collection health
    runner.py      many councils at once: grouping by host, threads, transactions
    probe.py       the connection test behind `digest councils probe` and auto-enable
"""
