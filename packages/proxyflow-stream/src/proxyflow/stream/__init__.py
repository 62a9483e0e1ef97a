"""Stream objects by reference: producer, consumer, events and broker protocols."""
