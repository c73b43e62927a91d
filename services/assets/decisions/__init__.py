"""SEG decisions: recorded with their minute and applied to the camera as a lifecycle change."""
