"""Virtual ESP32-family boards reachable as serial URLs on loopback. No Qt.

Use `app.sim.fleet.SimFleet` (one or many boards, each an `rfc2217://127.0.0.1:<port>` URL) or the
`ql-station sim` command. A board speaks esptool's serial protocol in download mode, boots what is in its
flash with the ROM's and the bootloader's checks (Secure Boot V2 included), then behaves like the Initial
Enrolment Firmware on its UART. Modules, bottom up:

    images, partition_table   built-in simulation images (valid ESP images with a behaviour marker)
    esp_image, secure_boot    reading images and checking signatures, independently of esptool
    efuses, flash, nvs_store  a board's persistent parts; board_state ties them to a state folder
    chip_model                what each chip's ROM reports (identity, registers, banners)
    uart, slip                the wire (pacing, faults) and its framing
    rom_loader, flash_commands  download mode: ROM loader and flasher stub
    boot, ief, console        normal boot and the IEF behaviour
    board, rfc2217_server     the reset circuit and CPU thread; the network serial port
    faults, fleet             fault knobs for tests; many boards and the registry handshake
"""
