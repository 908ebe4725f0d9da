"""esptool wrapper, firmware images (bin, Intel HEX), chip checks. No Qt."""
