// The standalone host of the emulator arrives with the emulator issue.
return 0;
