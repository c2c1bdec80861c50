-- Photos with a review: links of uploaded images (or images elsewhere), as a JSON array.
ALTER TABLE reviews ADD COLUMN images TEXT NOT NULL DEFAULT '[]';
