-- The flash sales running now, for the home and search pages, found through their end time.
CREATE INDEX promotions_ends ON promotions (ends_at);
