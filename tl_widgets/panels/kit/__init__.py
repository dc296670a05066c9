"""What panels are built from but is not a panel itself.

- :mod:`~tl_widgets.panels.kit.validation`: ``PanelError``, ``Notice``, ``Guard`` and the checks of browser values;
- :mod:`~tl_widgets.panels.kit.labels`: config values and fields in the user's language;
- :mod:`~tl_widgets.panels.kit.field_editor`: one widget per config field, built from the schema;
- :mod:`~tl_widgets.panels.kit.worker`: one background job at a time for a panel;
- :mod:`~tl_widgets.panels.kit.phase_editor`: one training phase's epochs, learning rate and optimizer.
"""
