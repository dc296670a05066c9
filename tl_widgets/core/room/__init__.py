"""A served room (``tl-widgets serve``): one private seat per kernel, the fair training queue, the room's view."""
