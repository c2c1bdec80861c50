-- Whether a product has a history (and so is archived rather than deleted) is looked up by
-- product or SKU, not by reading every order line, offer, quote and conversation.
CREATE INDEX order_lines_product ON order_lines (product_id);
CREATE INDEX offers_sku ON offers (sku_id);
CREATE INDEX quotes_sku ON quotes (sku_id);
CREATE INDEX conversations_product ON conversations (product_id);
