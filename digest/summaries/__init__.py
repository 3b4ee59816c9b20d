"""Meeting summaries and weekly digests, built from the council's own published agenda
and minutes by templates: resolutions, routine business, private items, papers, the
glossary, the weekly selection and rendering, and the feeds."""
