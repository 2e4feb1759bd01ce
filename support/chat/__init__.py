"""Live chat: services (the writes, under the conversation's row lock), the customer's pages,
the agents' admin console, its forms and the websocket consumers. Import the module you need
(`from support.chat import services`); this package re-exports nothing, so a test that patches
a name patches the one the code calls."""
