"""The weekly digest and the meeting summaries it is made of, built from the council's own
published agenda and minutes by templates: resolutions, routine business, private items,
papers, the glossary (the parts of one meeting's summary, also shown on meeting pages and
in the API), then the weekly selection, rendering, storing and queueing. The Atom feed and
calendar are the web's (digest/web/feed_documents.py)."""
