"""Great Expectations suites that guard the warehouse's data, layer by layer, and consent before activation."""
