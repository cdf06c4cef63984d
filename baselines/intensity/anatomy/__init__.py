"""What the intensity baseline reads off an abdominal CT before it looks for the liver: the body,
the lungs, the seed under the right hemidiaphragm, the liver's HU window, the spine, and the
dome's gap under the right lung. All on the coarse grid, (z, y, x) with z up, y to the back and x
to the patient's left (liverbench's canonical orientation)."""
